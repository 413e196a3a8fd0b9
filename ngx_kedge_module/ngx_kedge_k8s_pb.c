
/*
 * Copyright (C) ngx_kedge_module authors
 * Licensed under the Apache License, Version 2.0.
 *
 * The protobuf-c code generated from proto/ by "config" (protoc-c), in
 * one unit: nginx names an addon's objects after their directory alone,
 * and these files are all "generated.pb-c.c".
 */


#include "k8s.io/apimachinery/pkg/runtime/generated.pb-c.c"
#include "k8s.io/apimachinery/pkg/util/intstr/generated.pb-c.c"
#include "k8s.io/apimachinery/pkg/apis/meta/v1/generated.pb-c.c"
#include "k8s.io/api/core/v1/generated.pb-c.c"
#include "k8s.io/api/discovery/v1/generated.pb-c.c"
