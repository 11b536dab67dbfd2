# The app image (also runs the Chroma server and the index build in docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 ANONYMIZED_TELEMETRY=False \
    PIP_NO_CACHE_DIR=1 HOST=0.0.0.0 PORT=7860 DATA_DIR=/var/lib/carat
COPY . .
# Editable: the app reads knowledge/ and prompts/ beside the package.
RUN pip install -e ".[postgres,redis]"
EXPOSE 7860
CMD ["python", "app.py"]
