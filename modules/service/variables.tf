variable "name" {
  type        = string
  description = "Name of the service."
}

variable "instance_type" {
  type        = string
  description = "Instance type of the service hosts."
}

variable "min_size" {
  type        = number
  description = "Minimum number of instances in each group."

  validation {
    condition     = var.min_size >= 1
    error_message = "The min_size must be at least 1."
  }
}

variable "max_size" {
  type        = number
  description = "Maximum number of instances in each group."

  validation {
    condition     = var.max_size >= 1
    error_message = "The max_size must be at least 1."
  }

  validation {
    condition     = var.max_size <= 100
    error_message = "The max_size must be at most 100."
  }
}

variable "desired_size" {
  type        = number
  description = "Desired number of instances in each group (between min_size and max_size)."
}

variable "backup_enabled" {
  type        = bool
  description = "Whether to create a backup (failover) group."
  default     = true
}

variable "subnet_ids" {
  type        = list(string)
  description = "IDs of the subnets the service runs in."
}

variable "db_password" {
  type        = string
  description = "Password of the service database."
  sensitive   = true

  validation {
    condition     = length(var.db_password) >= 12
    error_message = "The db_password must be at least 12 characters long."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every service resource."
  default     = {}
}
