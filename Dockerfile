# recvault API and worker image: `recvault serve`, `recvault worker`, `recvault db upgrade`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 recvault \
 && useradd --system --uid 10001 --gid recvault --home-dir /nonexistent --shell /usr/sbin/nologin recvault

WORKDIR /src
COPY pyproject.toml README.md ./
COPY vault ./vault
COPY keys ./keys
COPY api ./api
COPY migrations ./migrations
# The wheel carries Alembic's scripts as vault/migrations.
RUN pip install . && rm -rf /src

WORKDIR /home/recvault
USER recvault:recvault
EXPOSE 8000
ENTRYPOINT ["recvault"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
