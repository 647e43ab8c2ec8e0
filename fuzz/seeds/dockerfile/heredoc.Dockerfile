FROM debian:bookworm
RUN <<EOT bash
  set -eux
  apt-get update
  apt-get install -y --no-install-recommends curl
  rm -rf /var/lib/apt/lists/*
EOT
COPY <<-"CONF" /etc/app.conf
	listen = ${PORT:-80}
	name = $HOSTNAME
	CONF
RUN <<A cat > /a && <<-B cat > /b
first
A
	second
	B
ADD --chmod=0755 https://example.com/tool.tar.gz /opt/
