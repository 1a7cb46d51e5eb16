# pixgate: the transform proxy, as a non-root container.
# libvips comes from the pyvips-binary wheel, so no system image libraries are needed.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY signing ./signing
COPY proxy ./proxy
COPY config ./config
COPY uploader ./uploader
COPY pixgate ./pixgate
RUN python -m venv /opt/pixgate \
 && /opt/pixgate/bin/pip install --no-cache-dir ./signing . \
 && /opt/pixgate/bin/pip check

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin pixgate \
 && mkdir -p /var/lib/pixgate && chown pixgate /var/lib/pixgate
COPY --from=build /opt/pixgate /opt/pixgate
ENV PATH=/opt/pixgate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIXGATE_BIND=0.0.0.0:8080 \
    PIXGATE_STORAGE_URL=file:///var/lib/pixgate
USER pixgate
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"
ENTRYPOINT ["pixgate"]
CMD ["serve"]
