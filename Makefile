# ngx_kedge_module.  The two commands of the README are scripts/demo.sh
# and scripts/test.sh (they install what they need); these targets are
# the developer's shortcuts.

MODULE_DIR ?= /usr/lib/nginx/modules
CONF_DIR   ?= /usr/share/nginx/modules-available
ENABLE_DIR ?= /etc/nginx/modules-enabled

.PHONY: all module install uninstall test test-asan asan style demo bench bench-quick clean

all: module

module:
	scripts/build-module.sh

install: module
	install -D -m 0644 build/nginx/objs/ngx_http_kedge_module.so \
		$(DESTDIR)$(MODULE_DIR)/ngx_http_kedge_module.so
	install -d $(DESTDIR)$(CONF_DIR) $(DESTDIR)$(ENABLE_DIR)
	echo "load_module modules/ngx_http_kedge_module.so;" \
		> $(DESTDIR)$(CONF_DIR)/mod-http-kedge.conf
	ln -sf $(CONF_DIR)/mod-http-kedge.conf \
		$(DESTDIR)$(ENABLE_DIR)/50-mod-http-kedge.conf

uninstall:
	rm -f $(DESTDIR)$(MODULE_DIR)/ngx_http_kedge_module.so \
		$(DESTDIR)$(CONF_DIR)/mod-http-kedge.conf \
		$(DESTDIR)$(ENABLE_DIR)/50-mod-http-kedge.conf

test:
	scripts/test.sh

test-asan:
	scripts/test.sh --asan

asan:
	scripts/build-asan.sh

style:
	scripts/check-style.sh

demo:
	scripts/demo.sh

bench:
	bench/run.sh

bench-quick:
	bench/run.sh --quick

clean:
	rm -rf build t/servroot
