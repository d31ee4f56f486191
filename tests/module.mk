# tests/: suites that span modules. Module-specific tests are registered by
# each module's own fragment.
TEST_SCRIPTS += tests/integration/server.sh
