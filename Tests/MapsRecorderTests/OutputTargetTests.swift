// What `record -o` does to what the path names (issue 9, findings 1 and 9),
// run through a shell (`runBash`, TraceInputTests.swift). Every path is in
// the test's own directory: a device node made with mknod stands for
// /dev/null, and a symlink to /proc/self/fd/1 for /dev/stdout, so that a
// recorder that replaces them cannot harm the machine.

import Foundation
import MapsTestSupport
import Testing

private let small = "--pages 64 --snapshots 1 --seed 3"

@Suite(.serialized) struct OutputTargetTests {
    @Test func aCharacterDeviceStaysADevice() throws {
        let run = try runBash(#"""
            mknod null c 1 3 || exit 99
            timeout -s KILL 60 "$M" record -o null \#(small) > /dev/null || exit $?
            test -c null && echo "still a device"
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "still a device\n")
    }

    @Test func aFIFOGetsTheTraceStreamed() throws {
        let run = try runBash(#"""
            mkfifo fifo || exit 99
            timeout -s KILL 60 cat fifo > received.mrtrace &
            timeout -s KILL 60 "$M" record -o fifo \#(small) > /dev/null || exit $?
            wait
            test -p fifo && echo "still a FIFO"
            timeout -s KILL 60 "$M" info received.mrtrace > /dev/null && echo "a whole trace came through"
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "still a FIFO\na whole trace came through\n")
    }

    @Test func standardOutputGetsTheTraceAndTheSummaryGoesToStandardError() throws {
        let run = try runBash(#"""
            ln -s /proc/self/fd/1 out || exit 99
            timeout -s KILL 60 "$M" record -o out \#(small) 2> summary | cat > piped.mrtrace
            test -L out && echo "still a symlink"
            timeout -s KILL 60 "$M" info piped.mrtrace > /dev/null && echo "a whole trace came through"
            grep -q '^kernel ' summary && echo "summary on stderr"
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "still a symlink\na whole trace came through\nsummary on stderr\n")
    }

    @Test func aSymlinkIsFollowedAndKept() throws {
        let run = try runBash(#"""
            mkdir data && echo old > data/target.mrtrace && ln -s data/target.mrtrace link.mrtrace || exit 99
            timeout -s KILL 60 "$M" record -o link.mrtrace \#(small) > /dev/null || exit $?
            test -L link.mrtrace && echo "still a symlink"
            timeout -s KILL 60 "$M" info data/target.mrtrace > /dev/null && echo "the target holds the trace"
            ls data
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "still a symlink\nthe target holds the trace\ntarget.mrtrace\n")
    }

    @Test func unusableOutputsAreRefusedBeforeRecording() throws {
        let run = try runBash(#"""
            mkfifo unread && mkdir directory && ln -s nowhere dangling || exit 99
            for output in unread directory dangling; do
                timeout -s KILL 60 "$M" record -o $output \#(small) > out 2>> errors; echo "$output: $?"
                test -s out && echo "$output: recorded"
            done
            timeout -s KILL 60 "$M" record -o '' \#(small) > out 2>> errors; echo "empty: $?"
            test -s out && echo "empty: recorded"
            cat errors >&2
            """#)
        #expect(run.exitCode == 0)
        #expect(run.standardOutput == "unread: 22\ndirectory: 22\ndangling: 22\nempty: 64\n")
        #expect(run.standardError.contains("no process has it open for reading"))
        #expect(run.standardError.contains("it is a directory"))
        #expect(run.standardError.contains("it is a symlink to a file that does not exist"))
        #expect(run.standardError.contains("needs a file name"))
    }

    @Test func aSecondRecordingToTheSamePathIsTold() throws {
        let run = try runBash(#"""
            timeout -s KILL 120 "$M" record -o shared.mrtrace --pages 64 --snapshots 2 --seed 3 \
                --test-reader-delay-ms 3000 > first.out 2> first.err &
            for _ in $(seq 100); do ls shared.mrtrace.partial-* > /dev/null 2>&1 && break; sleep 0.05; done
            timeout -s KILL 60 "$M" record -o shared.mrtrace \#(small) > second.out 2> second.err
            echo "second: $?"
            wait %1; echo "first: $?"
            timeout -s KILL 60 "$M" info shared.mrtrace --json | grep -o '"snapshots":[0-9][0-9]*'
            ls
            cat second.err >&2
            """#)
        #expect(run.exitCode == 0)
        #expect(run.standardOutput == """
            second: 22
            first: 0
            "snapshots":2
            first.err
            first.out
            second.err
            second.out
            shared.mrtrace

            """)
        #expect(run.standardError.contains("another mapsrace record is writing it right now"))
    }

    @Test func aStalePartialTraceIsRemovedAndReported() throws {
        let run = try runBash(#"""
            echo leftover > old.mrtrace.partial-999999999
            timeout -s KILL 60 "$M" record -o old.mrtrace \#(small) > /dev/null || exit $?
            ls
            """#)
        #expect(run.exitCode == 0, "\(run.standardError)")
        #expect(run.standardOutput == "old.mrtrace\n")
        #expect(run.standardError.contains("removed old.mrtrace.partial-999999999, a partial trace left by a recording that no longer runs"))
    }
}
