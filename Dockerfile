# sparrow search server. Build: docker build -t sparrow .   Run: see docker-compose.yml.

# ---- build: install with the lockfile, compile native modules and TypeScript, drop dev dependencies
FROM node:20-bookworm-slim AS build
# better-sqlite3 and roaring compile from source where no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# No model runtime downloads at install time: package.json's allowScripts keeps onnxruntime-node's
# install script from running (npm 11); ONNXRUNTIME_NODE_INSTALL=skip does the same for older npm.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# Scripts wait until the sources are here: "prepare" compiles them.
RUN npm ci --ignore-scripts && npm rebuild
COPY . .
RUN npm run build && npm prune --omit=dev

# ---- runtime: the compiled server and its production dependencies only
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=7700 \
    SPARROW_DATA_DIR=/data \
    SPARROW_IMPORT_DIR=/import
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data /import && chown node:node /data /import
USER node
VOLUME ["/data"]
EXPOSE 7700
# Ready means the store is open and every collection's index is loaded; no curl in the slim image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 7700) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains in-flight requests and checkpoints a running job before exiting.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "serve"]
