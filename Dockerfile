# syntax=docker/dockerfile:1
# Node 24 LTS on Debian 13 (glibc 2.41): the uWebSockets.js build with a binary for it
# (@btc-vision/uwebsockets.js, an optional dependency in the lockfile) loads there. walcast
# refuses to start (RUNTIME_UNSUPPORTED) rather than run uWS's JavaScript fallback
# (docs/operations.md#runtime). Not built on the project's own machines (no Docker there).

# Build: install everything, compile src/ to dist/ (`npm ci` runs `prepare`), type-check
# the sources so a broken image never gets built, then drop the dev dependencies.
FROM node:24-trixie-slim AS build
WORKDIR /app
# The whole checkout (less .dockerignore): the type-check covers the tests and the bench.
COPY . .
RUN npm ci --no-audit --no-fund \
 && npx tsc --noEmit \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production \
    WALCAST_HOST=0.0.0.0 \
    WALCAST_PORT=8080 \
    WALCAST_DATA_DIR=/var/lib/walcast/pgdata
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/sql ./sql
COPY --from=build --chown=root:root /app/web ./web
COPY --from=build --chown=root:root /app/docs ./docs
# Code owned by root and read-only to the service; only its data dir is writable.
RUN mkdir -p /var/lib/walcast && chown node:node /var/lib/walcast
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.WALCAST_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Compiled JavaScript on plain node (bin/walcast.js → dist/): no TypeScript compiler at start.
ENTRYPOINT ["node", "bin/walcast.js"]
CMD ["serve"]
