// A valid shared library without the d2x entry point.
extern "C" int not_a_d2x_plugin(void) { return 42; }
