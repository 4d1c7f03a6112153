# kubekms image: build with the full toolchain, run with production dependencies only, as a non-root user, with
# no shell needed at run time. The static pod (deploy/static-pod.yaml) overrides the user to root (the plugin
# socket is root-owned, mode 0600) and keeps every capability dropped. The install steps of the runtime stage
# are checked on CI from a clean clone (test/e2e/packaging.test.ts), since CI machines build no images.
#   docker build -t kubekms/kubekms:0.1.0 .

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY crds ./crds
# The image's unprivileged `node` user (uid 1000); numeric so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9810
# Exec form, no shell: node is PID 1 and gets SIGTERM directly. Pod `args:` are flags of `serve`; other
# subcommands: `docker run --entrypoint node IMAGE dist/cli/main.js static-pod`.
ENTRYPOINT ["node", "dist/cli/main.js", "serve"]
