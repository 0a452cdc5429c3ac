# The application image: web (ASGI), Celery worker and beat, and run_consumer.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input -v 0
RUN useradd --system --uid 10001 prepaid && chown -R prepaid /app
USER prepaid

EXPOSE 8000
CMD ["uvicorn", "prepaid.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
