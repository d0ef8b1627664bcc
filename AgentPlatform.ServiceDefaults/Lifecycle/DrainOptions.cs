using System.ComponentModel.DataAnnotations;

namespace AgentPlatform.ServiceDefaults.Lifecycle;

/// <summary>How a replica shuts down (section <c>Shutdown</c>).</summary>
public sealed class DrainOptions
{
    public const string SectionName = "Shutdown";

    /// <summary>
    /// How long requests and streams in flight may go on after SIGTERM. One still open then is ended
    /// (a stream with an error event) and recorded as such.
    /// </summary>
    [Range(0, 3600, ErrorMessage = "Shutdown:DrainTimeoutSeconds must be between 0 and 3600.")]
    public double DrainTimeoutSeconds { get; set; } = 30;

    /// <summary>What the process has after the drain to write what it holds (usage records, telemetry) before it is stopped hard.</summary>
    [Range(1, 600, ErrorMessage = "Shutdown:FlushTimeoutSeconds must be between 1 and 600.")]
    public double FlushTimeoutSeconds { get; set; } = 15;

    public TimeSpan DrainTimeout => TimeSpan.FromSeconds(DrainTimeoutSeconds);
}

