environment    = "staging"
cidr           = "10.20.0.0/16"
zones          = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
instance_type  = "t3.medium"
min_size       = 2
max_size       = 4
desired_size   = 2
backup_enabled = true

access_rules = [
  {
    name        = "https-public"
    port        = 443
    protocol    = "tcp"
    cidr        = "0.0.0.0/0"
    description = "HTTPS from anywhere"
  },
  {
    name        = "ssh-vpn"
    port        = 22
    protocol    = "tcp"
    cidr        = "10.250.0.0/24"
    description = "SSH from the VPN range"
  },
  {
    name        = "postgres-internal"
    port        = 5432
    protocol    = "tcp"
    cidr        = "10.20.0.0/16"
    description = "PostgreSQL from inside the VPC"
  },
]
