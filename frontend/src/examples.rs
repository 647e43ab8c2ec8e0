//! Example projects to start from. Each builds from the busybox image every Berth daemon has.

pub struct Example {
    pub title: &'static str,
    pub tag: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

pub const EXAMPLES: &[Example] = &[
    Example {
        title: "Static site (busybox httpd)",
        tag: "playground/site",
        files: &[
            (
                "Dockerfile",
                "FROM busybox\n\
                 COPY site/ /www/\n\
                 RUN echo \"built $(date -u)\" > /www/built.txt\n\
                 EXPOSE 8080\n\
                 CMD httpd -f -v -p 8080 -h /www\n",
            ),
            (
                "site/index.html",
                "<!doctype html>\n<title>Hello from Berth</title>\n<h1>Hello from a container</h1>\n\
                 <p>Served by busybox httpd. <a href=\"built.txt\">When was I built?</a></p>\n",
            ),
        ],
    },
    Example {
        title: "Small shell service",
        tag: "playground/ticker",
        files: &[
            (
                "Dockerfile",
                "FROM busybox\n\
                 COPY ticker.sh /usr/local/bin/ticker\n\
                 RUN chmod +x /usr/local/bin/ticker\n\
                 ENV INTERVAL=2\n\
                 CMD [\"/usr/local/bin/ticker\"]\n",
            ),
            (
                "ticker.sh",
                "#!/bin/sh\n# Prints a line every $INTERVAL seconds until stopped.\ntrap 'echo bye; exit 0' TERM INT\n\
                 n=0\nwhile true; do\n  n=$((n + 1))\n  echo \"tick $n\"\n  sleep \"$INTERVAL\" &\n  wait $!\ndone\n",
            ),
        ],
    },
    Example {
        title: "Multi-stage build",
        tag: "playground/multistage",
        files: &[
            (
                "Dockerfile",
                "# The first stage makes an artifact; the final image keeps only that.\n\
                 FROM busybox AS build\n\
                 WORKDIR /src\n\
                 COPY notes.txt .\n\
                 RUN sort notes.txt | uniq -c > /src/report.txt\n\
                 \n\
                 FROM busybox\n\
                 COPY --from=build /src/report.txt /report.txt\n\
                 CMD [\"cat\", \"/report.txt\"]\n",
            ),
            ("notes.txt", "apple\nbanana\napple\ncherry\nbanana\napple\n"),
        ],
    },
];
