namespace AgentPlatform.AppHost.Redis;

/// <summary>The Garnet server embedded in the AppHost process, shown in the dashboard as its own resource.</summary>
public sealed class GarnetResource(string name, int port) : Resource(name), IResourceWithConnectionString
{
    public int Port { get; } = port;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"127.0.0.1:{Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
}
