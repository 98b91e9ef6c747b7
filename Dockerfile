# syntax=docker/dockerfile:1
# Build: docker build -t himmes .
# Run:   docker run -p 8080:8080 -v himmes-data:/var/lib/himmes himmes

ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a change to the sources does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product himmes --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/himmes" /usr/local/bin/himmes

FROM debian:bookworm-slim
# SQLite and zlib are linked dynamically; Chart.js is served to the dashboard from the image.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libsqlite3-0 zlib1g ca-certificates curl libjs-chart.js tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/himmes --create-home himmes
COPY --from=build /usr/local/bin/himmes /usr/local/bin/himmes
USER himmes
WORKDIR /var/lib/himmes
VOLUME ["/var/lib/himmes"]
ENV HIMMES_HOST=0.0.0.0 \
    HIMMES_PORT=8080 \
    HIMMES_DB=/var/lib/himmes/himmes.sqlite
EXPOSE 8080
# Ready: the database answers and has every migration of this build.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/ready >/dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["himmes"]
CMD ["serve"]
