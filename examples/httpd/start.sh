# Started by cunik-init as `/bin/busybox sh /start.sh`.
# busybox httpd binds its port and only then forks into the background, so once it returns the
# page is served: the "ready" line below says so (the boot-linux benchmark and the tests wait for it).
/bin/busybox httpd -p 80 -h /www || exit 1
echo "httpd: ready on port 80"
# Stay in the foreground as the app. `cunik stop` presses the ACPI power button, which the init
# passes on as SIGTERM: the app then ends with status 0 (and the init ends httpd with the VM).
trap 'exit 0' TERM
while :; do /bin/busybox sleep 3600 & wait $!; done
