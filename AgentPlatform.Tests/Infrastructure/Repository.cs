namespace AgentPlatform.Tests.Infrastructure;

/// <summary>The repository the tests were built from, for tests that read its sources and documents.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "AgentPlatform.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("No AgentPlatform.sln above the tests' directory.");
    }
}
