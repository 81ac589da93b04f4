# One image for the web service and the worker; compose.yaml picks the command:
# the service is the CMD below, a worker is `python -m worker run`.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY shared shared
COPY service service
COPY worker worker
COPY allinone allinone
RUN pip install .
USER nobody
EXPOSE 8000
CMD ["uvicorn", "service.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--ws-max-size", "1048576", "--http", "service.header_timeout:HttpProtocol", "--no-proxy-headers"]
