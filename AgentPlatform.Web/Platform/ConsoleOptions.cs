using System.ComponentModel.DataAnnotations;

namespace AgentPlatform.Web.Platform;

/// <summary>Configuration section <c>AgentPlatform</c> of the console; validated at start-up (and on each reload).</summary>
public sealed class ConsoleOptions : IValidatableObject
{
    public const string SectionName = "AgentPlatform";

    /// <summary>The admin key the console uses to call the Api, server-side only.</summary>
    [Required(ErrorMessage = "AgentPlatform:MasterKey is required: the console calls the Api's admin API with it (the AppHost sets it from 'master-key').")]
    [MinLength(16, ErrorMessage = "AgentPlatform:MasterKey must be at least 16 characters.")]
    public string MasterKey { get; set; } = "";

    /// <summary>What an operator types to sign in to the console, when it should not be the master key itself.</summary>
    [MinLength(16, ErrorMessage = "AgentPlatform:AdminCredential, when set, must be at least 16 characters.")]
    public string? AdminCredential { get; set; }

    /// <summary>The Aspire dashboard (or any UI with its <c>/traces/detail/{traceId}</c> route), for links to a request's trace.</summary>
    public string? DashboardUrl { get; set; }

    public string AdminCredentialOrMasterKey => string.IsNullOrEmpty(AdminCredential) ? MasterKey : AdminCredential;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(DashboardUrl)
            && !(Uri.TryCreate(DashboardUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
        {
            yield return new ValidationResult("AgentPlatform:DashboardUrl, when set, must be an absolute http or https URL (the dashboard's address).", [nameof(DashboardUrl)]);
        }
    }
}

