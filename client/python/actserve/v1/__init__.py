"""Generated from proto/actserve/v1/actserve.proto by
client/python/generate_stubs.sh: edit the proto, never these modules."""
