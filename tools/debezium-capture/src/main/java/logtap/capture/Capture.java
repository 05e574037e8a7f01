package logtap.capture;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;

import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs Debezium's embedded engine with the JSON converter (schemas enabled
 * for key and value) and writes every record between two marker rows as one
 * JSON line: {"topic": ..., "key": <json or null>, "value": <json or null>}.
 *
 * Usage: Capture <engine.properties> <out.jsonl> <ready-file> <marker-topic> <timeout-seconds>
 *
 * The driving script inserts rows into a marker table: phase 'begin' (again
 * and again until the ready file appears), then runs the DML under test,
 * then phase 'end'. Records before the first 'begin' (snapshot schema
 * changes and the like) are dropped, records of the marker topic are never
 * written, and the engine stops at 'end'.
 */
public final class Capture {
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: Capture <engine.properties> <out.jsonl> <ready-file> <marker-topic> <timeout-seconds>");
            System.exit(2);
        }
        Properties props = new Properties();
        try (var in = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) {
            props.load(in);
        }
        Path out = Path.of(args[1]);
        Path ready = Path.of(args[2]);
        String markerTopic = args[3];
        long timeoutSeconds = Long.parseLong(args[4]);

        // With provide.transaction.metadata: BEGIN/END records of the
        // marker's transactions are not part of the capture.
        String txTopic = props.getProperty("topic.prefix", "") + ".transaction";
        AtomicReference<String> heldBegin = new AtomicReference<>();
        AtomicBoolean skipEnd = new AtomicBoolean(false);
        AtomicBoolean recording = new AtomicBoolean(false);
        AtomicBoolean done = new AtomicBoolean(false);
        AtomicInteger written = new AtomicInteger();
        CountDownLatch finished = new CountDownLatch(1);
        BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8);

        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .notifying(ev -> {
                    if (done.get()) {
                        return;
                    }
                    String value = ev.value();
                    if (markerTopic.equals(ev.destination())) {
                        heldBegin.set(null);
                        skipEnd.set(true);
                        if (value == null) {
                            return;
                        }
                        if (value.contains("\"phase\":\"begin\"") && recording.compareAndSet(false, true)) {
                            try {
                                Files.writeString(ready, "ready\n");
                            } catch (IOException e) {
                                throw new RuntimeException(e);
                            }
                            System.err.println("[capture] begin marker seen: recording");
                        } else if (value.contains("\"phase\":\"end\"") && recording.get()) {
                            System.err.println("[capture] end marker seen: " + written.get() + " records");
                            done.set(true);
                            finished.countDown();
                        }
                        return;
                    }
                    if (!recording.get()) {
                        return;
                    }
                    String line = line(ev.destination(), ev.key(), value);
                    if (ev.destination().equals(txTopic)) {
                        // A BEGIN waits for its transaction's first change:
                        // a marker transaction's BEGIN and END are left out.
                        if (value != null && value.contains("\"status\":\"BEGIN\"")) {
                            // One held before it had no change (MariaDB's
                            // TRUNCATE, a DDL without a record): it goes.
                            String before = heldBegin.getAndSet(line);
                            if (before != null) {
                                write(w, before, written);
                            }
                            return;
                        }
                        if (skipEnd.getAndSet(false)) {
                            heldBegin.set(null);
                            return;
                        }
                    }
                    // Anything else (an END too: a transaction without
                    // captured changes) lets the held BEGIN go first.
                    String begin = heldBegin.getAndSet(null);
                    if (begin != null) {
                        write(w, begin, written);
                    }
                    write(w, line, written);
                })
                .using((success, message, error) -> {
                    System.err.println("[capture] engine stopped: success=" + success + " " + message);
                    if (error != null) {
                        error.printStackTrace();
                    }
                    finished.countDown();
                })
                .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        boolean ok = finished.await(timeoutSeconds, TimeUnit.SECONDS);
        try {
            engine.close();
        } catch (IllegalStateException alreadyStopped) {
            // The engine stopped by itself (an error, reported above).
        }
        executor.shutdown();
        if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
            executor.shutdownNow();
        }
        w.close();
        if (!ok || !done.get()) {
            System.err.println("[capture] FAILED: no end marker within " + timeoutSeconds + " s ("
                    + written.get() + " records written, recording=" + recording.get() + ")");
            System.exit(1);
        }
        System.exit(0);
    }

    static String line(String topic, String key, String value) {
        return "{\"topic\":" + quote(topic) + ",\"key\":" + (key == null ? "null" : key)
                + ",\"value\":" + (value == null ? "null" : value) + "}\n";
    }

    static void write(BufferedWriter w, String line, AtomicInteger written) {
        try {
            w.write(line);
            w.flush();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        written.incrementAndGet();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
