# The travelbot app image: web (uvicorn), Celery worker/beat and management commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=travelbot.settings

WORKDIR /app

# Dependencies come from pyproject.toml alone, so a code change reuses this layer.
# The project itself is not installed as a package: it runs from /app.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# Settings need no services to collect static files; the defaults are enough here.
RUN python manage.py collectstatic --noinput

# The code and static files stay root-owned and read-only for the app user.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home travelbot
USER travelbot

EXPOSE 8000
CMD ["uvicorn", "travelbot.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
