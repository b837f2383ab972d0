"""Run the unittest TestCases of a test script and report them as TAP, so
automake's TAP driver (and .ci/run's totals) count every test case.

Usage at the end of a test script:

    if __name__ == "__main__":
        harness.tap.main()
"""
import faulthandler
import os
import socket
import sys
import traceback
import unittest

# No test may hang the suite: every socket without its own timeout gives up
# after a minute, and a whole test script is stopped (with every thread's
# stack printed into its log) after DIRMAIL_TEST_SCRIPT_TIMEOUT seconds.
SOCKET_TIMEOUT = 60
SCRIPT_TIMEOUT = int(os.environ.get("DIRMAIL_TEST_SCRIPT_TIMEOUT", "1200"))


def _sanitizer_reports():
    """Sanitizer reports that any dirmaild's log gained since the last look
    (harness.dirmaild imports nothing of a test's, so any script may ask)."""
    from .dirmaild import Dirmaild
    return Dirmaild.check_all_sanitizers()


class _TapResult(unittest.TestResult):
    """TAP lines for unittest's results. A test during which a daemon's log
    gained a sanitizer report fails, whatever it asserted itself: every test
    that starts a dirmaild (or shares one) checks for them."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.number = 0

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def _diag(self, text):
        for line in text.rstrip("\n").splitlines():
            self._line("# " + line)

    def _name(self, test):
        if not isinstance(test, unittest.TestCase):
            # a setUpClass/tearDownClass failure: "tearDownClass (module.Class)"
            return str(test)
        return test.id().split(".", 1)[-1]

    def addSuccess(self, test):
        reports = _sanitizer_reports()
        if reports:
            self.addFailure(test, (AssertionError, AssertionError(reports), None), checked=True)
            return
        self.number += 1
        self._line(f"ok {self.number} - {self._name(test)}")

    def addFailure(self, test, err, checked=False):
        super().addFailure(test, err)
        self.number += 1
        self._line(f"not ok {self.number} - {self._name(test)}")
        self._diag("".join(traceback.format_exception(*err)))
        if not checked:
            self._diag(_sanitizer_reports())

    def addError(self, test, err):
        super().addError(test, err)
        self.number += 1
        self._line(f"not ok {self.number} - {self._name(test)} (error)")
        self._diag("".join(traceback.format_exception(*err)))
        self._diag(_sanitizer_reports())

    def addSkip(self, test, reason):
        self.number += 1
        self._line(f"ok {self.number} - {self._name(test)} # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        self.number += 1
        self._line(f"ok {self.number} - {self._name(test)} # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        self.number += 1
        self._line(f"not ok {self.number} - {self._name(test)} # unexpected success")


def main(module="__main__"):
    """Load every TestCase of module, run them in order, print TAP, exit 0/1."""
    socket.setdefaulttimeout(SOCKET_TIMEOUT)
    faulthandler.dump_traceback_later(SCRIPT_TIMEOUT, exit=True)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module])
    result = _TapResult(sys.stdout)
    count = suite.countTestCases()
    sys.stdout.write(f"1..{count}\n")
    sys.stdout.flush()
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)
