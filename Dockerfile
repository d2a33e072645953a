# dpoloop: one image for the API, the GPU workers and beat (the command decides the role).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DPOLOOP_DATA_DIR=/data
WORKDIR /srv/dpoloop

# torch first (from PyPI on Linux x86_64 this is the CUDA build the GPU workers need).
RUN pip install torch==2.13.0
COPY pyproject.toml README.md alembic.ini ./
COPY core ./core
COPY app ./app
COPY worker ./worker
COPY cli ./cli
COPY migrations ./migrations
COPY frontend ./frontend
COPY models ./models
RUN pip install -e ".[worker,production]"

# Not root: a user of its own owns the data volume (a new named volume takes this directory's owner).
RUN useradd --system --uid 10001 --home-dir /srv/dpoloop dpoloop && mkdir -p /data && chown dpoloop /data
USER dpoloop
VOLUME /data
EXPOSE 8000
CMD ["dpoloop", "api", "--host", "0.0.0.0"]
