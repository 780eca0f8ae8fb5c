#!/usr/bin/env python3
"""algoqueue as the prediction stage of a Spark job (PySpark, local mode).

1. Builds a DataFrame of inputs with an id column: --rows rows of the digits data set that scikit-learn ships
   (64 features and the true label each), plus --bad rows the model must refuse.
2. Publishes every row as a JSON input to --topic, keyed by its id, from the executors: each partition pipes
   its rows into `algoqueue publish` (nothing is collected on the driver). A failed publish fails the task.
3. Waits until algoqueue (running as a service beside it) has written a row for every id in the results
   store, printing progress.
4. Reads the results store back through JDBC (Debian's SQLite JDBC driver), keeps the newest row per key
   (at-least-once: a republished input may have two), joins the predictions to the inputs by id and prints
   the counts of ok and error rows and the accuracy. Exits 1 unless every input has exactly one prediction.

examples/spark/run starts the broker, the model and algoqueue, then this job; see the README's Spark section.
"""
import argparse
import json
import sqlite3
import subprocess
import sys
import time

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

SQLITE_JDBC_JAR = "/usr/share/java/sqlite-jdbc.jar"
SQLITE_JDBC_NATIVE = "/usr/lib/x86_64-linux-gnu/jni"


def arguments():
    parser = argparse.ArgumentParser(description="Score a DataFrame through algoqueue and join the predictions back.")
    parser.add_argument("--brokers", required=True, help="Kafka bootstrap brokers (host:port)")
    parser.add_argument("--topic", default="digits", help="the topic algoqueue consumes (default digits)")
    parser.add_argument("--database", required=True, help="algoqueue's SQLite results store")
    parser.add_argument("--algorithm", default="digits", help="the algorithm name algoqueue stores rows under")
    parser.add_argument("--rows", type=int, default=3000, help="input rows (the data set repeats; default 3000)")
    parser.add_argument("--bad", type=int, default=3, help="extra rows the model refuses (default 3)")
    parser.add_argument("--algoqueue", default="algoqueue", help="the algoqueue binary the executors publish with")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for every prediction (default 600)")
    return parser.parse_args()


def input_rows(spark, rows, bad):
    """The inputs as a DataFrame: id, features (array of 64 ints), label (the true digit; null for a bad row)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    features = [[int(value) for value in row] for row in digits.data]
    labels = [int(label) for label in digits.target]
    records = [(i, features[i % len(labels)], labels[i % len(labels)]) for i in range(rows)]
    records += [(rows + i, [0, 0, 0], None) for i in range(bad)]  # a wrong feature count: an error row each
    schema = T.StructType([
        T.StructField("id", T.LongType(), False),
        T.StructField("features", T.ArrayType(T.IntegerType()), False),
        T.StructField("label", T.IntegerType(), True),
    ])
    return spark.createDataFrame(records, schema).repartition(4)


def publisher(algoqueue, brokers, topic):
    """The function each executor runs on its partition: its rows as JSON lines into `algoqueue publish`."""

    def publish_partition(rows):
        command = [algoqueue, "publish", "--brokers", brokers, "--topic", topic, "--key-field", "id"]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = (json.dumps(row.asDict(), separators=(",", ":")) + "\n" for row in rows)
        output, error = process.communicate("".join(lines).encode())
        if process.returncode != 0:  # Spark fails (and may retry) the task: nothing is silently dropped
            raise RuntimeError(f"algoqueue publish exited {process.returncode}: {error.decode()[-500:]}")

    return publish_partition


def wait_for_rows(database, topic, algorithm, expected, patience):
    """Polls the store until every input has a row; prints progress. False when patience runs out."""
    started = time.monotonic()
    written, last_print, latest_error = -1, 0.0, None
    while True:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as store:
                (written,) = store.execute(
                    "SELECT COUNT(DISTINCT key) FROM results WHERE topic = ? AND algorithm = ?",
                    (topic, algorithm)).fetchone()
                # Why rows come slowly, when they do: a model that is down opens algoqueue's circuit breaker,
                # which pauses calls, so its errors say more than the count.
                row = store.execute(
                    "SELECT error FROM results WHERE topic = ? AND algorithm = ? AND status = 'error' "
                    "ORDER BY updated_at DESC LIMIT 1", (topic, algorithm)).fetchone()
                latest_error = row[0] if row else None
        except sqlite3.OperationalError:
            written = 0  # the store or its table is not there yet
        elapsed = time.monotonic() - started
        if written >= expected:
            print(f"algoqueue wrote a row for all {expected} inputs after {elapsed:.1f} s", flush=True)
            return True
        if elapsed - last_print >= 2:
            latest = f"; latest error: {latest_error[:120]}" if latest_error else ""
            print(f"waiting for predictions: {written} of {expected} ({elapsed:.0f} s){latest}", flush=True)
            last_print = elapsed
        if elapsed > patience:
            latest = f" (latest error: {latest_error})" if latest_error else ""
            print(f"gave up after {patience:.0f} s: {written} of {expected} inputs have a row{latest}", file=sys.stderr)
            return False
        time.sleep(0.5)


def predictions(spark, database, topic, algorithm):
    """The newest row per key from the results store, read through JDBC, with the output's fields parsed."""
    query = (
        "(SELECT key, partition, offset, status, output, error, updated_at FROM results "
        f"WHERE topic = '{topic}' AND algorithm = '{algorithm}') AS predictions")
    rows = (spark.read.format("jdbc")
            .option("url", f"jdbc:sqlite:{database}")
            .option("driver", "org.sqlite.JDBC")
            .option("dbtable", query)
            .load())
    newest = Window.partitionBy("key").orderBy(F.col("updated_at").desc(), F.col("offset").desc())
    output = T.StructType([
        T.StructField("label", T.IntegerType()),
        T.StructField("probabilities", T.ArrayType(T.DoubleType())),
    ])
    return (rows.withColumn("newest", F.row_number().over(newest)).where("newest = 1").drop("newest")
            .withColumn("answer", F.from_json("output", output))
            .select("key", "status", "error",
                    F.col("answer.label").alias("predicted"),
                    F.array_max("answer.probabilities").alias("confidence")))


def main():
    options = arguments()
    spark = (SparkSession.builder.master("local[2]").appName("algoqueue-spark-example")
             .config("spark.jars", SQLITE_JDBC_JAR)
             .config("spark.driver.extraLibraryPath", SQLITE_JDBC_NATIVE)
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    inputs = input_rows(spark, options.rows, options.bad).cache()
    expected = inputs.count()
    print(f"publishing {expected} inputs to {options.topic} from {inputs.rdd.getNumPartitions()} partitions", flush=True)
    started = time.monotonic()
    inputs.foreachPartition(publisher(options.algoqueue, options.brokers, options.topic))
    print(f"published in {time.monotonic() - started:.1f} s", flush=True)

    if not wait_for_rows(options.database, options.topic, options.algorithm, expected, options.wait):
        spark.stop()
        sys.exit(1)

    scored = predictions(spark, options.database, options.topic, options.algorithm)
    joined = inputs.join(scored, inputs["id"].cast("string") == scored["key"], "left").cache()
    counts = joined.agg(
        F.count("*").alias("inputs"),
        F.count("status").alias("predictions"),
        F.sum(F.when(F.col("status") == "ok", 1).otherwise(0)).alias("ok"),
        F.sum(F.when(F.col("status") == "error", 1).otherwise(0)).alias("error"),
        F.avg(F.when(F.col("status") == "ok", (F.col("predicted") == F.col("label")).cast("int"))).alias("accuracy"),
    ).first()
    per_input = joined.groupBy("id").agg(F.count("status").alias("n"))
    without = per_input.where("n = 0").count()
    several = per_input.where("n > 1").count()

    joined.where("status = 'ok'").select("id", "label", "predicted", "confidence").orderBy("id").show(5)
    joined.where("status = 'error'").select("id", "error").orderBy("id").show(5, truncate=False)
    print(f"ok rows: {counts['ok']}, error rows: {counts['error']}, accuracy on ok rows: {counts['accuracy']:.3f}")
    print(f"inputs without a prediction: {without}, inputs with more than one: {several}")
    spark.stop()
    print(f"joined {counts['predictions']} predictions to {counts['inputs']} inputs", flush=True)
    if without or several or counts["predictions"] != counts["inputs"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
