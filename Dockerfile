FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY ari_app ./ari_app
RUN pip install --no-cache-dir . && useradd --system --home /srv ariapp && mkdir -p /data && chown ariapp /data
USER ariapp
EXPOSE 8080
ENTRYPOINT ["ari-app"]
CMD ["run", "--config", "/etc/ari-app/clinic.toml", "--migrate", "--data-dir", "/data"]
