# Container image of codearts_build_exporter: a static Go binary on an empty
# base (FROM scratch), running as nobody (65534:65534).
#
# The image is assembled from files prepared outside Docker, so building it
# pulls nothing from any registry. scripts/docker-build.sh prepares the
# build context and runs `docker build`; by hand, the context needs:
#
#   codearts_build_exporter   make build EXTRA_LDFLAGS="-s -w" (static; sets the version, see Makefile)
#   ca-certificates.crt       the host's CA bundle (Debian: /etc/ssl/certs/ca-certificates.crt),
#                             for HTTPS to the CodeArts and IAM endpoints
#   state/                    an empty directory: becomes the state file's directory, owned by nobody
#
# Run it with a config file and a volume for the state file:
#
#   docker run -d -p 19876:19876 \
#     -v /etc/codearts_build_exporter:/etc/codearts_build_exporter:ro \
#     -v codearts-state:/var/lib/codearts_build_exporter \
#     codearts_build_exporter
#
# or try it without an account: docker run -p 19876:19876 codearts_build_exporter --demo

FROM scratch

ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="codearts_build_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Huawei Cloud CodeArts Build: build log records, action and build durations, results" \
      org.opencontainers.image.source="https://github.com/codearts-build-exporter/codearts_build_exporter" \
      org.opencontainers.image.documentation="https://github.com/codearts-build-exporter/codearts_build_exporter/blob/main/docs/operations.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="scratch"

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY codearts_build_exporter /bin/codearts_build_exporter
COPY --chown=65534:65534 state/ /var/lib/codearts_build_exporter/

USER 65534:65534
WORKDIR /var/lib/codearts_build_exporter
EXPOSE 19876
VOLUME ["/var/lib/codearts_build_exporter"]

ENTRYPOINT ["/bin/codearts_build_exporter"]
CMD ["--config.file=/etc/codearts_build_exporter/codearts_build_exporter.yml", "--state.file=/var/lib/codearts_build_exporter/state.json"]
