variable "environment" {
  type        = string
  description = "Name of the environment (dev, staging or production)."

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "The environment must be one of dev, staging or production."
  }
}

variable "cidr" {
  type        = string
  description = "CIDR block of the environment network."
}

variable "zones" {
  type        = list(string)
  description = "Availability zones to spread the subnets over."
}

variable "instance_type" {
  type        = string
  description = "Instance type of the service hosts."
}

variable "min_size" {
  type        = number
  description = "Minimum number of service instances."
}

variable "max_size" {
  type        = number
  description = "Maximum number of service instances."
}

variable "desired_size" {
  type        = number
  description = "Desired number of service instances."
}

variable "backup_enabled" {
  type        = bool
  description = "Whether to create a backup (failover) group for the service."
}

variable "access_rules" {
  type = list(object({
    name        = string
    port        = number
    protocol    = string
    cidr        = string
    description = optional(string, "")
  }))
  description = "Ingress rules for the environment network."
}

variable "extra_tags" {
  type        = map(string)
  description = "Additional tags merged into the standard tags."
  default     = {}
}

variable "db_password" {
  type        = string
  description = "Database password. Never put it in a file: set TF_VAR_db_password."
  sensitive   = true
}
