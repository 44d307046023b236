resource "terraform_data" "primary" {
  input = {
    role          = "primary"
    name          = var.name
    instance_type = var.instance_type
    min_size      = var.min_size
    max_size      = var.max_size
    desired_size  = var.desired_size
    subnets       = var.subnet_ids
    tags          = var.tags
  }

  lifecycle {
    precondition {
      condition     = var.min_size <= var.max_size
      error_message = "The min_size must be less than or equal to max_size."
    }

    precondition {
      condition     = var.min_size <= var.desired_size && var.desired_size <= var.max_size
      error_message = "The desired_size must be between min_size and max_size."
    }
  }
}

resource "terraform_data" "backup" {
  count = var.backup_enabled ? 1 : 0

  input = {
    role          = "backup"
    name          = "${var.name}-backup"
    instance_type = var.instance_type
    min_size      = var.min_size
    max_size      = var.max_size
    desired_size  = var.desired_size
    subnets       = var.subnet_ids
    failover_for  = terraform_data.primary.id
    tags          = var.tags
  }
}

# The credential is kept in triggers_replace, not in input: terraform_data copies input into its
# `output` attribute without the sensitive mark (hashicorp/terraform#35609), which would leak it.
# Rotating the password therefore re-creates the credential record.
resource "terraform_data" "database" {
  input = {
    engine = "postgres"
    name   = "${var.name}-db"
    tags   = var.tags
  }

  triggers_replace = {
    password = var.db_password
  }
}
