# syntax=docker/dockerfile:1
# reports-server: build with the dev toolchain, run on production dependencies only.
#   docker build -t reports-server:0.1.0 .

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Compile TypeScript to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the build needs only tsc, and scripts are code we would run as root.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc emits only JavaScript: carry any other file under src/ (SQL migrations, say) to the same
# place under dist/, where code that reads files from beside itself will look.
RUN npm run build \
 && cd src && find . -type f ! -name '*.ts' -exec cp --parents {} ../dist/ \;

# 2. Production dependencies alone (pure JavaScript: no compiler is needed).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. Runtime: distroless Node.js 20, no shell or package manager; uid 65532 is its "nonroot".
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
# glibc malloc: large Buffers (a list's pages) from the heap, not fresh mmaps (scripts/malloc-env.mjs)
ENV MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=134217728
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The served kinds are the CRDs in resources/crds/, read at startup from beside dist/.
COPY resources ./resources
USER 65532:65532
EXPOSE 4443
# Node itself rather than bin/reports-server: the image has no /usr/bin/env for its shebang.
ENTRYPOINT ["/nodejs/bin/node", "--enable-source-maps", "dist/main.js"]
