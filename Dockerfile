# syntax=docker/dockerfile:1
# agentcore-operator: the operator only (no emulators: the `local` extra is not installed).
#
# The final stage is still python:slim, so /bin/sh is in the image, but nothing needs it:
# the entrypoint is exec form, the chart's probes are HTTP, and no RUN executes after the
# venv is copied in.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY operator/ operator/
# Build the wheel, then install it alone (no extras) into a venv that is all the final stage gets.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile --upgrade pip==25.0.1 \
 && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-compile /wheels/*.whl

FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="agentcore-operator" \
      org.opencontainers.image.description="Kubernetes operator for AWS Bedrock AgentCore code interpreter sessions" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A numeric non-root user (runAsNonRoot can verify it); nothing is written outside /tmp.
USER 65532:65532
# /healthz, /readyz and /metrics (AGENTCORE_HTTP_PORT).
EXPOSE 8080
ENTRYPOINT ["agentcore-operator", "run"]
