FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY ari_app ./ari_app
# uid/gid 10001: Asterisk's write-secrets.sh gives this group its call records (CDR_READER_GID).
RUN pip install --no-cache-dir . && python -m ari_app.i18n compile && groupadd --system --gid 10001 ariapp \
    && useradd --system --uid 10001 --gid 10001 --home /srv ariapp && mkdir -p /data && chown ariapp /data \
    && chmod 0700 /data
USER ariapp
EXPOSE 8080
ENTRYPOINT ["ari-app"]
CMD ["run", "--config", "/etc/ari-app/clinic.toml", "--migrate", "--data-dir", "/data"]
