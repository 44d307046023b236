environment    = "production"
cidr           = "10.30.0.0/16"
zones          = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
instance_type  = "m5.large"
min_size       = 3
max_size       = 10
desired_size   = 4
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
    cidr        = "10.30.0.0/16"
    description = "PostgreSQL from inside the VPC"
  },
  {
    name        = "dns-internal"
    port        = 53
    protocol    = "udp"
    cidr        = "10.0.0.0/8"
    description = "DNS from the internal network"
  },
]
