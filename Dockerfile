# One image for api, worker, notifier and the one-shot migrate service.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
RUN useradd --system --create-home --uid 10001 closeloop

COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install .

USER closeloop
EXPOSE 8000
# The compose file chooses the role: `closeloop api|worker|notifier|migrate`.
CMD ["closeloop", "api"]
