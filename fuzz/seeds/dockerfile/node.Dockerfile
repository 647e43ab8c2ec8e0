FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000
LABEL org.opencontainers.image.title="web" maintainer="ops@example.com"
WORKDIR /app
COPY package*.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY . .
EXPOSE ${PORT}/tcp
VOLUME ["/app/data"]
STOPSIGNAL SIGTERM
ONBUILD COPY . /app/src
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.com/install.sh | bash
CMD ["node", "server.js"]
