namespace AgentPlatform.Simulator;

/// <summary>Checks the key a client sent against <c>Simulator:ApiKey</c>, in the header its provider uses.</summary>
public static class SimulatorAuth
{
    /// <summary>True when no key is configured, or <paramref name="header"/> holds <paramref name="prefix"/> + the key.</summary>
    public static bool IsAuthorized(HttpContext context, SimulatorOptions options, string header, string prefix) =>
        string.IsNullOrEmpty(options.ApiKey)
        || context.Request.Headers[header].ToString() == prefix + options.ApiKey;
}
