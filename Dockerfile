# The application image: web (gunicorn, behind Pushpin), Celery worker and beat, and run_consumer.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input -v 0
# The message catalogues (Korean first): msgfmt only for the build.
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && SECRET_KEY=compilemessages-only python manage.py compilemessages -v 0 -l ko \
    && apt-get purge -y gettext && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 prepaid && chown -R prepaid /app
USER prepaid

EXPOSE 8001
ENV WEB_BIND=0.0.0.0:8001
CMD ["gunicorn", "prepaid.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
