# gnp in a container, for machines that can pull images and reach the npm registry: a build
# stage that compiles the single executable with the Bun pinned in package-lock.json (npm
# brings it in, as on a developer machine), and a runtime stage with nothing but that
# executable on Debian 12 slim (its glibc is the one `ldd dist/gnp` needs), as uid 10001.
# Without a registry, `npm run image` prepares the FROM scratch image of container/Dockerfile
# instead; its runtime settings are these (test/ops/dockerfiles.test.ts compares them).
#
#   docker build -t gnp .
#   docker run -d --name gnp -p 7443:7443 -v gnp-data:/data gnp
#   docker cp gnp:/data/pki/client.crt . && docker cp gnp:/data/pki/client.key . && docker cp gnp:/data/pki/ca.crt .
#   gnp call PING --cert client.crt --key client.key --ca ca.crt
#
# Every `gnp serve` flag is also a GNP_* variable (docker run -e GNP_MAX_CONNECTIONS=50000 ...).

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json bunfig.toml build.ts ./
COPY src ./src
RUN npm run build && ./dist/gnp version

FROM debian:bookworm-slim
# A fixed uid/gid so that a volume's ownership means the same on every host.
RUN groupadd --system --gid 10001 gnp \
 && useradd --system --uid 10001 --gid gnp --home-dir /data --shell /usr/sbin/nologin gnp \
 && mkdir -p /data && chown gnp:gnp /data
COPY --from=build /src/dist/gnp /usr/local/bin/gnp

# Listen on every interface of the container; keep data (certificates, gnp.db) on the volume;
# serve probes and metrics on loopback (-e GNP_ADMIN=0.0.0.0:9090 -p 9090:9090 to scrape from
# outside); log JSON lines. Docker stops a container 10 s after SIGTERM, so the drain gets 8.
ENV GNP_HOST=0.0.0.0 \
    GNP_DATA=/data \
    GNP_ADMIN=127.0.0.1:9090 \
    GNP_LOG_FORMAT=json \
    GNP_SHUTDOWN_TIMEOUT=8

# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 7443
STOPSIGNAL SIGTERM

# Healthy = ready: listening, store open, not draining (/readyz). Exit 1 with the reason otherwise.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/gnp", "health"]

ENTRYPOINT ["/usr/local/bin/gnp"]
CMD ["serve"]
