FROM busybox
COPY site/ /www/
RUN echo "built $(date -u)" > /www/built.txt
EXPOSE 8080
CMD httpd -f -v -p 8080 -h /www
