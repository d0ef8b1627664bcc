namespace AgentPlatform.ServiceDefaults.Telemetry;

/// <summary>The meters and activity sources of the platform's own code, one per service.</summary>
public static class PlatformTelemetry
{
    public const string Api = "AgentPlatform.Api";
    public const string Router = "AgentPlatform.Router";
    public const string Simulator = "AgentPlatform.Simulator";

    public static readonly string[] MeterNames = [Api, Router, Simulator];
    public static readonly string[] ActivitySourceNames = [Api, Router, Simulator];
}
