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
RUN pip install . \
 # vault.migrate finds Alembic's scripts next to the installed `vault` package;
 # the wheel does not carry them, so they are copied beside it.
 && cp -r migrations "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/migrations" \
 && rm -rf /src

WORKDIR /home/recvault
USER recvault:recvault
EXPOSE 8000
ENTRYPOINT ["recvault"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
