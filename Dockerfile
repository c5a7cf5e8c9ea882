# syntax=docker/dockerfile:1
# walcast runs its TypeScript sources directly (tsx, a runtime dependency): no build
# output to copy, but the sources are type-checked in their own stage so a broken
# image never gets built.

FROM node:20-bookworm-slim AS check
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY sql ./sql
COPY test ./test
RUN npx tsc --noEmit

FROM node:22-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Node 22 LTS: the bundled uWebSockets.js build has no binary for it; this one does
# (glibc >= 2.38, which Debian 13 has). walcast refuses to start on neither
# (docs/operations.md#runtime), never on uWS's JavaScript fallback.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm install --no-save --omit=dev --no-audit --no-fund @btc-vision/uwebsockets.js@20.57.0 \
 && npm cache clean --force

FROM node:22-trixie-slim AS runtime
ENV NODE_ENV=production \
    WALCAST_HOST=0.0.0.0 \
    WALCAST_PORT=8080 \
    WALCAST_DATA_DIR=/var/lib/walcast/pgdata
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root src ./src
COPY --chown=root:root sql ./sql
COPY --chown=root:root docs ./docs
# The check stage must have passed for this image to exist.
COPY --from=check /app/package.json /tmp/checked-package.json
# Code owned by root and read-only to the service; only its data dir is writable.
RUN mkdir -p /var/lib/walcast && chown node:node /var/lib/walcast && rm /tmp/checked-package.json
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.WALCAST_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/walcast.js"]
CMD ["serve"]
