FROM python:3.12-slim

RUN pip install --no-cache-dir uv && useradd --create-home --uid 10001 app
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy

# Dependencies first, so code changes reuse this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY alembic.ini ./
COPY src ./src
RUN uv sync --frozen --no-dev

ENV PATH="/app/.venv/bin:$PATH"
# /app is not writable by `app`: the generated admin token goes to its home (or set MOVIEMANAGER_ADMIN_TOKEN).
ENV MOVIEMANAGER_DATA_DIR=/home/app/.moviemanager
USER app
EXPOSE 8000
# DATABASE_URL must be set (see docker-compose.yml); the embedded server is for local use.
CMD ["uvicorn", "moviemanager.main:app", "--host", "0.0.0.0", "--port", "8000"]
