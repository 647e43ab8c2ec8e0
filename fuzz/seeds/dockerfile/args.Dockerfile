ARG BASE=ubuntu
ARG TAG=22.04
FROM ${BASE}:${TAG} AS base
ARG USER_ID
ENV HOME=/home/${USER:-app} LEGACY value with spaces
RUN useradd -m -u ${USER_ID:?must be set} app \
 # a comment inside a continuation
 && echo ${HOME/home/house} ${TAG#2} ${TAG%%.*}
FROM base
COPY --from=base --link --exclude=*.md ["/a b", "/c d/"]
EXPOSE 80 443/udp 8000-8010
USER 1000:1000
MAINTAINER someone
