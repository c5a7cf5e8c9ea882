/** The approvals catalog's topic patterns; access rules are keyed by them. */
export const WORKSPACE_TOPIC = 'workspace:{id}'
export const USER_TOPIC = 'user:{id}'

export const workspaceTopic = (workspaceId: string): string => `workspace:${workspaceId}`
export const userTopic = (userId: string): string => `user:${userId}`
