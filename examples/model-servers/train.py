#!/usr/bin/env python3
"""Trains the digits classifier and lays it out for the model servers: an MLServer model repository (Open
Inference Protocol) and, when MLflow is installed in this Python, an MLflow model (`mlflow models serve`).

    python examples/model-servers/train.py servers --mlserver-port 8081
    mlserver start servers/mlserver                       # http://127.0.0.1:8081/v2/models/digits/infer
    mlflow models serve -m servers/mlflow-model --env-manager local -h 127.0.0.1 -p 8082   # /invocations

The model is scikit-learn's logistic regression on the first 1 000 digits of the data set scikit-learn ships
(nothing is downloaded). Run it with the Python of the server's environment (scripts/setup-model-servers).
"""
import argparse
import json
import os

import joblib
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--mlserver-port", type=int, default=8081, help="MLServer's HTTP port (gRPC and metrics: +100, +200)")
    arguments = parser.parse_args()
    features, labels = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=3000).fit(features[:1000], labels[:1000])
    repository = os.path.join(arguments.directory, "mlserver")
    os.makedirs(os.path.join(repository, "digits"), exist_ok=True)
    joblib.dump(model, os.path.join(repository, "digits", "model.joblib"))
    with open(os.path.join(repository, "digits", "model-settings.json"), "w") as settings:
        json.dump({"name": "digits", "implementation": "mlserver_sklearn.SKLearnModel",
                   "parameters": {"uri": "./model.joblib"}}, settings)
    port = arguments.mlserver_port
    with open(os.path.join(repository, "settings.json"), "w") as settings:
        # MLServer 1.7 runs its models in the server process with parallel_workers 0.
        json.dump({"host": "127.0.0.1", "http_port": port, "grpc_port": port + 100, "metrics_port": port + 200,
                   "parallel_workers": 0}, settings)
    try:
        import mlflow.sklearn
    except ImportError:
        return
    mlflow.sklearn.save_model(model, os.path.join(arguments.directory, "mlflow-model"))


if __name__ == "__main__":
    main()
