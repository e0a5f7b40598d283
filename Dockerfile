# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies and native toolchain, run the compiled app as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
COPY web ./web
# Compiles src/ and migrations/ (the migrations are imported by the compiled data source) into dist/, and
# builds the dashboard (web/, with Vite) into dist/dashboard, served at /dashboard.
RUN npm run build && test -f dist/dashboard/index.html && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production QUNYUN_ENV=production QUNYUN_DATA_DIR=/app/data
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
# The launcher behind `npm run qunyun -- token …` (no sources here, so it runs dist/ as it is).
COPY --chown=node:node scripts ./scripts
# Read at run time: configuration, bot definitions, rule packs and the word lists in rules/words/.
COPY --chown=node:node config ./config
COPY --chown=node:node bots ./bots
COPY --chown=node:node rules ./rules
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+(process.env.QUNYUN_PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM reaches node directly (no shell, no npm): the runtime drains the outbound queue and flushes before exit.
CMD ["node", "dist/src/cli.js", "start"]
