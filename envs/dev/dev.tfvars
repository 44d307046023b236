environment    = "dev"
cidr           = "10.10.0.0/16"
zones          = ["eu-west-1a", "eu-west-1b"]
instance_type  = "t3.small"
min_size       = 1
max_size       = 2
desired_size   = 1
backup_enabled = false

access_rules = [
  {
    name        = "https-internal"
    port        = 443
    protocol    = "tcp"
    cidr        = "10.0.0.0/8"
    description = "HTTPS from the internal network"
  },
  {
    name        = "ssh-vpn"
    port        = 22
    protocol    = "tcp"
    cidr        = "10.250.0.0/24"
    description = "SSH from the VPN range"
  },
]
