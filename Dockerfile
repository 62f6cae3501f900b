# syntax=docker/dockerfile:1
# Context server image: built with dev dependencies, run as a non-root user with production
# dependencies only. better-sqlite3 is a native addon: it is compiled in the build stage (same
# Debian base, so the same glibc) and its compiled module travels with node_modules.

# ---- build: compile TypeScript, then drop dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Toolchain for native addons (better-sqlite3) when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The TypeScript client is an npm workspace of the root package: npm ci and the build need it.
COPY clients/typescript/package.json ./clients/typescript/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY clients/typescript ./clients/typescript
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MCP_HOST=0.0.0.0 \
    MCP_PORT=9877 \
    MCP_DATA_DIR=/data
WORKDIR /app
# Code and dependencies stay owned by root: the server process cannot rewrite itself.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 9877
# Node's own fetch, since the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MCP_PORT || 9877) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 directly (no npm, no shell), so SIGTERM reaches the server's graceful shutdown.
CMD ["node", "dist/src/server.js"]
