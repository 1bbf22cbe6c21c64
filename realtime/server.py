"""`python -m realtime.server [daphne options] APP`: the launcher, realtime/serving/server.py."""

if __name__ == "__main__":
    from realtime.serving.server import FleetCommandLineInterface

    FleetCommandLineInterface.entrypoint()
