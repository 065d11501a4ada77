"""The SMI iViewX remote command protocol: parser, client, simulator."""
